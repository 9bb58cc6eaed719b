"""shapes32: a generated 32x32 RGB image dataset that ships with the code.

The real-size example (zoo ``cifar_like``, flows/cifar_like.yaml) needs CIFAR-shaped data
on a machine with no downloads. Ten classes of coloured figures on textured backgrounds:
solid shapes (disc, square, triangle, cross, ring) and patterns (horizontal, vertical and
diagonal stripes, checkerboard, dot grid). Position, size, rotation, colours, background
gradient and pixel noise vary per image, and a distractor blob overlaps some figures, so
a small CNN needs its convolutions (a linear model does not reach it) and low precision
costs accuracy, as on natural images.

Generated from fixed seeds with numpy's frozen legacy RandomState: the same arrays on
every machine and numpy version. Values in [0, 1], (N, 3, 32, 32), like cifar10.
"""

from __future__ import annotations

import numpy as np

SIZE = 32
CLASSES = ("disc", "square", "triangle", "cross", "ring",
           "hstripes", "vstripes", "dstripes", "checker", "dots")
TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100
TRAIN_SEED = 2026
TEST_SEED = 7


def _mask(cls: int, u: np.ndarray, v: np.ndarray, r: float, rs: np.random.RandomState
          ) -> np.ndarray:
    """Coverage in [0, 1] of class ``cls``'s figure; (u, v) are rotated coordinates about
    the figure's centre, r its radius in pixels."""
    au, av = np.abs(u), np.abs(v)
    if cls == 0:  # disc
        d = np.hypot(u, v) - r
    elif cls == 1:  # square
        d = np.maximum(au, av) - r * 0.85
    elif cls == 2:  # triangle: three half-planes
        d = np.maximum.reduce([v - r * 0.6, -0.866 * u - 0.5 * v - r * 0.55,
                               0.866 * u - 0.5 * v - r * 0.55])
    elif cls == 3:  # cross
        arm = r * 0.3
        d = np.minimum(np.maximum(au - arm, av - r), np.maximum(av - arm, au - r))
    elif cls == 4:  # ring
        d = np.abs(np.hypot(u, v) - r * 0.75) - r * 0.25
    else:  # patterns fill a disc of radius r * 1.4
        period = rs.uniform(4.0, 7.0)
        phase = rs.uniform(0, period)
        if cls == 5:
            p = np.sin(2 * np.pi * (v + phase) / period)
        elif cls == 6:
            p = np.sin(2 * np.pi * (u + phase) / period)
        elif cls == 7:
            p = np.sin(2 * np.pi * ((u + v) / 1.414 + phase) / period)
        elif cls == 8:
            p = np.sin(np.pi * (u + phase) / period * 2) * np.sin(np.pi * (v + phase) / period * 2)
        else:  # dots
            p = (np.cos(2 * np.pi * (u + phase) / period) + np.cos(2 * np.pi * (v + phase) / period)
                 - 1.0)
        inside = np.clip(r * 1.4 - np.hypot(u, v), 0.0, 1.0)
        return np.clip(p * 2.0, 0.0, 1.0) * inside
    return np.clip(0.5 - d, 0.0, 1.0)  # one pixel of anti-aliased edge


def _image(cls: int, rs: np.random.RandomState) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5
    # background: a random colour gradient plus coarse texture
    c0, c1 = rs.uniform(0.0, 0.6, 3), rs.uniform(0.0, 0.6, 3)
    ang = rs.uniform(0, 2 * np.pi)
    t = ((xx * np.cos(ang) + yy * np.sin(ang)) / SIZE + 1.0) / 2.0
    img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
    coarse = rs.normal(0, 0.08, (3, SIZE // 4, SIZE // 4)).repeat(4, 1).repeat(4, 2)
    img = img + coarse
    # the figure, in a colour apart from the background
    r = rs.uniform(6.0, 10.0)
    cx, cy = rs.uniform(r + 2, SIZE - r - 2, 2)
    rot = rs.uniform(0, 2 * np.pi) if cls not in (5, 6, 7) else rs.uniform(-0.25, 0.25)
    u = (xx - cx) * np.cos(rot) + (yy - cy) * np.sin(rot)
    v = -(xx - cx) * np.sin(rot) + (yy - cy) * np.cos(rot)
    m = _mask(cls, u, v, r, rs)
    colour = np.clip(img.mean(axis=(1, 2)) + rs.choice([-1, 1], 3) * rs.uniform(0.3, 0.6, 3),
                     0.0, 1.0)
    img = img * (1 - m) + colour[:, None, None] * m
    if rs.uniform() < 0.5:  # a distractor blob
        bx, by = rs.uniform(0, SIZE, 2)
        br = rs.uniform(2.0, 5.0)
        b = np.clip(br - np.hypot(xx - bx, yy - by), 0.0, 1.0)
        img = img * (1 - b) + rs.uniform(0, 1, 3)[:, None, None] * b
    img = img + rs.normal(0, 0.06, img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def generate(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of every class, shuffled: (x (N, 3, 32, 32) float32, y int64)."""
    rs = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(CLASSES), dtype=np.int64), per_class)
    y = y[rs.permutation(len(y))]
    x = np.stack([_image(int(c), rs) for c in y])
    return x, y


def shapes32_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) of the built-in dataset."""
    x_tr, y_tr = generate(TRAIN_PER_CLASS, TRAIN_SEED)
    x_te, y_te = generate(TEST_PER_CLASS, TEST_SEED)
    return x_tr, y_tr, x_te, y_te
