"""hw/ and sim/ sit at the top of the repository but ship inside the package as
codesign.hw and codesign.sim, so an installed wheel can generate and simulate RTL."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["codesign", "codesign.*"]) + ["codesign.hw", "codesign.sim"],
    package_dir={"codesign.hw": "hw", "codesign.sim": "sim"},
    package_data={"codesign.hw": ["*.sv", "*.svh", "**/*.sv", "**/*.json", "**/*"],
                  "codesign.sim": ["*.py", "**/*"]},
)
