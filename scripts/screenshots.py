"""Make the SVG screenshots under screenshots/ from the demo snapshot (no Docker needed).

    python scripts/screenshots.py [OUTDIR]

Start screen and test1 selected on the demo, an ipvlan l3 container selected on
the macvlan/ipvlan recording made on Debian's kernel (tests/recorded/kernel-vm),
the path screen from test1 to the internet on the lab recording with routes
(tests/recorded/path), the map (m) of the demo, and the map with nxlab folded:
the tutorial's figure (test1, test2, docker0, the NAT); at 120x40 (the
README's), 160x45 and 80x24.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netexplorer.ui.app import create_app  # noqa: E402

SIZES = {"120x40": (120, 40), "160x45": (160, 45), "80x24": (80, 24)}
CHILDREN = ROOT / "tests" / "recorded" / "kernel-vm" / "children.snapshot.json"
ROUTED = ROOT / "tests" / "recorded" / "path" / "lab-nft.snapshot.json"
#: in a scene's keys: wait for the app's workers (the map is built in one)
WAIT = "<wait>"
#: test1 selected, then the map
MAP_TEST1 = ("slash", *"test1", "enter", "m", WAIT)
#: scene -> (snapshot file, None for the demo; keys pressed)
SCENES: dict[str, tuple[Path | None, tuple[str, ...]]] = {
    "start": (None, ()),
    "test1-selected": (None, ("slash", *"test1", "enter")),
    "ipvlan-selected": (CHILDREN, ("slash", *"nxr-ipvlan-l3", "enter")),
    "path": (ROUTED, ("slash", *"test1", "enter", "p", *"internet", "enter")),
    "map": (None, MAP_TEST1),
    "map-tutorial": (
        None,
        (*MAP_TEST1, "slash", *"nxlab", "enter", "enter", "slash", *"test1", "enter"),
    ),
}


async def shoot(
    outdir: Path, scene: str, source: Path | None, keys: tuple[str, ...], size: tuple[int, int]
) -> Path:
    app = create_app(demo=True) if source is None else create_app(snapshot=source)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        for key in keys:
            if key == WAIT:
                await pilot.pause()
                await app.workers.wait_for_complete()
            else:
                await pilot.press(key)
        await pilot.pause()
        await app.workers.wait_for_complete()  # the path is traced in a worker
        await pilot.pause()
        name = f"{scene}-{size[0]}x{size[1]}.svg"
        app.save_screenshot(name, path=str(outdir))
    return outdir / name


async def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for scene, (source, keys) in SCENES.items():
        for size in SIZES.values():
            print(await shoot(outdir, scene, source, keys, size))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"))
