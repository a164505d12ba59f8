"""Copy the browser builds of the npm packages the pages use into static/vendor/.

`make install` runs `npm ci` and then this script, so a fresh clone gets static/vendor/
(git-ignored) from package-lock.json alone; the app serves those files itself (no CDN).
Each entry: package directory under node_modules → files to copy (source → target name).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "static" / "vendor"

ASSETS: dict[str, list[tuple[str, str]]] = {
    "lightweight-charts": [
        ("dist/lightweight-charts.standalone.production.js", "lightweight-charts.js"),
        ("LICENSE", "LICENSE"),
    ],
}


def main() -> int:
    missing: list[str] = []
    for package, files in ASSETS.items():
        source_dir = NODE_MODULES / package
        target_dir = VENDOR / package
        target_dir.mkdir(parents=True, exist_ok=True)
        for source_name, target_name in files:
            source = source_dir / source_name
            if not source.is_file():
                missing.append(str(source.relative_to(ROOT)))
                continue
            shutil.copyfile(source, target_dir / target_name)
    if missing:
        print("vendor_static: missing (run `npm ci` first): " + ", ".join(missing), file=sys.stderr)
        return 1
    print(f"vendor_static: copied {sum(len(f) for f in ASSETS.values())} files into {VENDOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
