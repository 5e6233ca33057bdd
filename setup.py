"""What pyproject.toml cannot say: the top-level ``models/`` folder ships as ``tagger.models``.

``[tool.setuptools.packages.find]`` only finds folders under ``tagger/``, so the package list
and the folder mapping are given here; metadata and package data stay in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py

MODELS = "tagger.models"


class BuildPy(build_py):
    """Leave the model build scripts (models/build_*.py: need a checkout and ../shared) out."""

    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        if package == MODELS:
            return [m for m in super().find_package_modules(package, package_dir)
                    if m[1] == "__init__"]
        return super().find_package_modules(package, package_dir)


setup(
    # beetsplug is a namespace package (no __init__.py): beets loads `beetsplug.instruments`.
    packages=[*find_packages(include=["tagger", "tagger.*"]), MODELS,
              *find_namespace_packages(include=["beetsplug.*"])],
    package_dir={MODELS: "models"},
    cmdclass={"build_py": BuildPy},
)
