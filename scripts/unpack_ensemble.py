"""Write each member of a trained ensemble back out as its own checkpoint folder.

Usage: python scripts/unpack_ensemble.py MODEL OUT_DIR

An ensemble holds its members' weights (``members.<k>.*``) and their training records, so a recipe can
refit the combination with one member replaced (``members: [NEW_RUN/model, OUT_DIR/member-1, ...]``)
without retraining the others: e.g. a new video member beside the default's NPR and probe members,
which ``make train-default`` would otherwise retrain (fp16 weights stay fp16, as shipped). The
members are raw and uncalibrated: no threshold or calibration of their own (scan's 0.5 means
nothing for them); use them as ensemble members or for AUCs, not for verdicts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from fakelens.errors import FakelensError
from fakelens.models.checkpoint import CONFIG, WEIGHTS, read_config, resolve_checkpoint


def unpack(model: str, out: Path) -> list[Path]:
    folder = resolve_checkpoint(model)
    cfg = read_config(folder)
    if cfg.get("architecture") != "ensemble":
        raise FakelensError(f"not an ensemble (its architecture is {cfg.get('architecture')!r})", folder)
    state = load_file(str(folder / WEIGHTS))
    written = []
    specs = cfg["model_kwargs"]["members"]
    records = cfg.get("members") or [{}] * len(specs)
    for k, (spec, record) in enumerate(zip(specs, records, strict=True)):
        prefix = f"members.{k}."
        member = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
        dest = out / f"member-{k}"
        dest.mkdir(parents=True, exist_ok=True)
        save_file(member, str(dest / WEIGHTS))
        config = {
            "name": record.get("name") or f"{cfg.get('name', 'ensemble')}-member-{k}",
            "architecture": spec["architecture"],
            "model_kwargs": spec.get("model_kwargs", {}),
            "preprocess": cfg["preprocess"],
            "face": cfg["face"],
            "training": record.get("training"),
            "unpacked_from": {"model": str(model), "member": k},
        }
        (dest / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        written.append(dest)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a shipped ensemble's name or an ensemble checkpoint folder")
    ap.add_argument("out", type=Path, help="folder for member-0, member-1, ...")
    args = ap.parse_args()
    try:
        for dest in unpack(args.model, args.out):
            print(f"{read_config(dest)['name']} -> {dest}")
    except FakelensError as err:
        raise SystemExit(str(err)) from None


if __name__ == "__main__":
    main()
