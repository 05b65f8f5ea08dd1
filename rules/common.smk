# Config validation, the project inventory, wildcard constraints and input functions.
import os
from pathlib import Path

from snakemake.utils import validate

from chapterwise.config import SCHEMA_PATH, load_config
from chapterwise.process import with_scripts_dir
from chapterwise.project import load_project, wildcard_pattern

# The jobs' `chapterwise` is the one beside this Python, activated environment or not.
os.environ["PATH"] = with_scripts_dir(os.environ.get("PATH", ""))

# load_config checks against the same schema first, so a mistake is reported as config.yaml:LINE.
CONFIG = load_config(config, root=Path.cwd())
validate(config, schema=str(SCHEMA_PATH))
PROJECT = load_project(Path.cwd(), CONFIG)


wildcard_constraints:
    chapter=wildcard_pattern(PROJECT.chapter_names),
    table=wildcard_pattern(PROJECT.tables),
    values=wildcard_pattern(PROJECT.values),
    diagram=wildcard_pattern(PROJECT.diagram_names),


def get_chapter_inputs(wildcards):
    return PROJECT.chapter_inputs(wildcards.chapter)


def get_thesis_inputs(wildcards):
    return PROJECT.thesis_inputs()


def get_table_template(wildcards):
    return PROJECT.table_template(wildcards.table)
