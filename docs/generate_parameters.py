"""Write docs/parameters.md from nextflow_schema.json: run `python docs/generate_parameters.py` from the repository root after changing the schema."""
import json
schema = json.load(open("nextflow_schema.json"))
lines = ["# Parameters", "",
         "Generated from `nextflow_schema.json` (the schema the pipeline's first step, `scact validate`, checks the",
         "parameters against, and the one `scact run` reads its defaults from). Give them as `--name value` to",
         "`nextflow run` or `scact run`,",
         "or in a YAML/JSON file with `-params-file` (Nextflow) / `--params-file` (`scact run`).", ""]
for key, group in schema["$defs"].items():
    lines += [f"## {group['title']}", "", group.get("description", ""), "", "| parameter | type | default | description |", "|---|---|---|---|"]
    for name, spec in group["properties"].items():
        default = spec.get("default", "")
        default = "" if default is None else f"`{json.dumps(default) if not isinstance(default, str) else default}`"
        desc = spec["description"] + (" " + spec["help_text"] if "help_text" in spec else "")
        if "enum" in spec:
            desc += " One of: " + ", ".join(f"`{e}`" for e in spec["enum"]) + "."
        required = " (required)" if name in group.get("required", []) else ""
        lines.append(f"| `--{name}`{required} | {spec['type']} | {default} | {desc} |")
    lines.append("")
open("docs/parameters.md", "w").write("\n".join(lines))
