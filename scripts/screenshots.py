"""Make the SVG screenshots under screenshots/ from the demo snapshot (no Docker needed).

    python scripts/screenshots.py [OUTDIR]

Start screen and test1 selected, at 160x45 and at 80x24.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netexplorer.ui.app import create_app  # noqa: E402

SIZES = {"160x45": (160, 45), "80x24": (80, 24)}
SCENES: dict[str, tuple[str, ...]] = {
    "start": (),
    "test1-selected": ("slash", "t", "e", "s", "t", "1", "enter"),
}


async def shoot(outdir: Path, scene: str, keys: tuple[str, ...], size: tuple[int, int]) -> Path:
    app = create_app(demo=True)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        name = f"{scene}-{size[0]}x{size[1]}.svg"
        app.save_screenshot(name, path=str(outdir))
    return outdir / name


async def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for scene, keys in SCENES.items():
        for size in SIZES.values():
            print(await shoot(outdir, scene, keys, size))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"))
