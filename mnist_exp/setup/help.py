"""`--help` of the Hydra commands: the command's own groups and options, written from the packaged
config folder. (Hydra's own `--help` rebuilds its config repository once per group option, which
takes about a second; this reads the folder once.)"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from mnist_exp.setup.config import CONF_DIR, compose

FOOTER = """\
Hydra's flags work too: --cfg job (the composed config), --multirun/-m (a sweep),
--hydra-help, --shell-completion/-sc install=bash."""


def _defaults(config_name: str) -> dict[str, str | None]:
    """The config's default groups and their chosen options, as its YAML file lists them."""
    listed = OmegaConf.load(Path(CONF_DIR) / f"{config_name}.yaml").get("defaults") or []
    out: dict[str, str | None] = {}
    for entry in listed:
        if isinstance(entry, str) or entry is None:
            continue
        for group, option in entry.items():
            if not str(group).startswith(("hydra", "override", "optional")):
                out[str(group)] = None if option is None else str(option)
    if config_name != "config":  # composed for a local config's sake only (conf/eval.yaml says why)
        out.pop("logger", None)
    return out


def group_options(group: str) -> list[str]:
    """The options of a config group, as its folder holds them."""
    return sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))


def parts(group: str) -> list[str]:
    """Options of `group` that its `default` option is made of (e.g. callbacks' model_checkpoint):
    pieces of a whole, not choices; picked alone, a run would lack the other pieces."""
    default = Path(CONF_DIR) / group / "default.yaml"
    listed = OmegaConf.load(default).get("defaults") or [] if default.is_file() else []
    return sorted(str(e) for e in listed if isinstance(e, str) and e != "_self_")


def help_text(prog: str, config_name: str, usage: str) -> str:
    """Usage, the config groups (default marked with *), and every key with its default value."""
    lines = [usage.rstrip(), "", "Config groups (group=option; * is the default):"]
    for group, chosen in _defaults(config_name).items():
        pieces = parts(group)
        shown = [f"{o}*" if o == chosen else o for o in group_options(group) if o not in pieces]
        lines.append(f"  {group + ':':<16}{', '.join(shown)}")
        if pieces:
            lines.append(f"  {'':<16}(default is {', '.join(pieces)}; drop one with {group}.<name>=null)")
    lines.append(
        f"  {'local:':<16}(optional) your machine's settings: conf/local/default.yaml of this folder"
    )
    lines.append(f"  {'':<16}or of --config-dir, untracked (data.root, the logger, a SLURM partition)")
    # Hydra's, its joblib plugin's, ours (local_cluster: stored by hydra_plugins/mnist_exp_launchers)
    launchers = ["basic*", "joblib", *group_options("hydra/launcher"), "local_cluster"]
    lines.append(f"  {'hydra/launcher:':<16}{', '.join(launchers)}   (with -m: where a sweep's jobs run)")
    lines += ["", f"Options (key=value; `{prog} --cfg job` prints them with your overrides):", ""]
    lines.append(OmegaConf.to_yaml(compose(config_name)).rstrip())
    return "\n".join([*lines, "", FOOTER, ""])
