"""Hatchling metadata hook shared by every kerastack package.

The monorepo keeps one version, in the top-level ``VERSION`` file. Each
package's ``pyproject.toml`` points its custom metadata hook here and lists
its sibling packages under ``siblings``; the hook sets the version and pins
each sibling exactly to it, so ``kerastack-attention 0.1.0`` always requires
``kerastack-core==0.1.0``.
"""

from pathlib import Path

from hatchling.metadata.plugin.interface import MetadataHookInterface

VERSION_FILE = Path(__file__).resolve().parent.parent / "VERSION"


class KerastackMetadataHook(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata):
        version = VERSION_FILE.read_text().strip()
        metadata["version"] = version
        siblings = [f"kerastack-{name}=={version}" for name in self.config.get("siblings", [])]
        metadata["dependencies"] = list(self.config.get("dependencies", [])) + siblings
