"""Write docs/parameters.md from nextflow_schema.json: run `python docs/generate_parameters.py` from the
repository root after changing the schema (tests/test_parameters.py fails while the page is stale)."""
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parameters_markdown(schema: dict) -> str:
    """The page: one table per parameter group of the schema, in its order."""
    lines = ["# Parameters", "",
             "Generated from `nextflow_schema.json` (the schema the pipeline's first step, `scact validate`, checks the",
             "parameters against, and the one `scact run` reads its defaults from). Give them as `--name value` to",
             "`nextflow run` or `scact run`,",
             "or in a YAML/JSON file with `-params-file` (Nextflow) / `--params-file` (`scact run`).", ""]
    for group in schema["$defs"].values():
        lines += [f"## {group['title']}", "", group.get("description", ""), "",
                  "| parameter | type | default | description |", "|---|---|---|---|"]
        for name, spec in group["properties"].items():
            default = spec.get("default", "")
            default = "" if default is None else f"`{json.dumps(default) if not isinstance(default, str) else default}`"
            desc = spec["description"] + (" " + spec["help_text"] if "help_text" in spec else "")
            if "enum" in spec:
                desc += " One of: " + ", ".join(f"`{e}`" for e in spec["enum"]) + "."
            required = " (required)" if name in group.get("required", []) else ""
            lines.append(f"| `--{name}`{required} | {spec['type']} | {default} | {desc} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    markdown = parameters_markdown(json.loads((REPO / "nextflow_schema.json").read_text()))
    (REPO / "docs" / "parameters.md").write_text(markdown)
