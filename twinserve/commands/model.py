"""Model commands: train, import, predict, inspect."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from twinserve.output import console, fail, print_json, user_errors

DEFAULT_BUNDLE = Path("build/bundles/default")
BundleArg = Annotated[Path, typer.Option("--bundle", "-b", help="Model bundle directory.")]


@user_errors
def train(
    recipe: Annotated[str, typer.Argument(help="Recipe name; `twinserve train --list` shows them.")] = "",
    out: Annotated[Path, typer.Option(help="Bundle directory to write.")] = DEFAULT_BUNDLE,
    seed: Annotated[int, typer.Option(help="Random seed for the split and the estimator.")] = 0,
    trees: Annotated[int | None, typer.Option(help="breast-cancer-forest: number of trees.")] = None,
    c: Annotated[float | None, typer.Option("--c", help="Logistic regression inverse regularisation.")] = None,
    data: Annotated[Path | None, typer.Option(help="text-sentiment: sentence<TAB>label file.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: the recipe name).")] = None,
    version: Annotated[str | None, typer.Option(help="Model version (default: content hash).")] = None,
    list_recipes: Annotated[bool, typer.Option("--list", help="List recipes and exit.")] = False,
) -> None:
    """Train a recipe and write a verified model bundle (joblib, ONNX when it converts, manifest)."""
    from prediction_core.recipes import DEFAULT_RECIPE, RECIPES
    from prediction_core.training import train as train_recipe

    if list_recipes:
        table = Table("recipe", "description", "defaults")
        for r in RECIPES.values():
            table.add_row(r.name, r.description, json.dumps(r.defaults))
        console.print(table)
        return
    params: dict[str, Any] = {"trees": trees, "c": c, "data": str(data) if data else None}
    recipe_name = recipe or DEFAULT_RECIPE
    from prediction_core.recipes import get_recipe

    accepted = get_recipe(recipe_name).defaults
    given = {k: v for k, v in params.items() if v is not None}
    if set(given) - set(accepted):
        raise fail(f"recipe {recipe_name!r} does not take --{', --'.join(sorted(set(given) - set(accepted)))}")
    with console.status(f"training {recipe_name}…"):
        result = train_recipe(recipe_name, out=out, seed=seed, params=given, name=name, version=version)
    _print_summary(result.bundle_dir, result.manifest)


@user_errors
def import_model(
    model: Annotated[Path, typer.Option(help="Fitted scikit-learn classifier pipeline (joblib).")],
    schema: Annotated[Path, typer.Option(help="Input schema JSON: {kind, features: [{name, type, ...}]}.")],
    out: Annotated[Path, typer.Option(help="Bundle directory to write.")] = DEFAULT_BUNDLE,
    heldout: Annotated[Path | None, typer.Option(help='Held-out data {"instances": [...], "labels": [...]}.')]
    = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: the file's stem).")] = None,
    version: Annotated[str | None, typer.Option(help="Model version (default: content hash).")] = None,
) -> None:
    """Wrap your own fitted scikit-learn pipeline in a bundle (bring your own model)."""
    from prediction_core.training import import_pipeline

    with console.status(f"importing {model}…"):
        result = import_pipeline(model, schema, out=out, name=name, version=version, heldout_path=heldout)
    _print_summary(result.bundle_dir, result.manifest)


def _read_input(value: str | None) -> Any:
    if value is None or value == "-":
        text = sys.stdin.read()
        where = "standard input"
    elif value.lstrip().startswith(("{", "[")):
        text, where = value, "--input"
    else:
        path = Path(value)
        if not path.is_file():
            raise fail(f"--input {value!r} is neither JSON nor an existing file")
        try:
            text, where = path.read_text(), str(path)
        except UnicodeDecodeError:
            raise fail(f"--input {value!r} is not UTF-8 text (a JSON body is)") from None
    if not text.strip():
        raise fail(f"{where} is empty; expected a JSON body like {{\"instances\": [...]}}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"{where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise fail(f"{where} is nested too deeply to be a request body") from None


@user_errors
def predict(
    bundle: BundleArg = DEFAULT_BUNDLE,
    runtime: Annotated[str, typer.Option(help="sklearn, onnx or lean (pure Python).")] = "sklearn",
    input_: Annotated[str | None, typer.Option("--input", "-i",
                                               help="JSON body, a file path, or - for stdin (default).")] = None,
) -> None:
    """Predict from the command line with exactly the contract the HTTP doors use."""
    import prediction_core
    from prediction_core.bundle import read_manifest
    from prediction_core.contract import predict_body
    from prediction_core.runtimes import RUNTIMES

    read_manifest(bundle)  # a missing bundle or an unknown runtime is named before standard input is read
    if runtime not in RUNTIMES:
        raise fail(f"--runtime {runtime!r} is not one of {', '.join(RUNTIMES)}")
    payload = _read_input(input_)
    predictor = prediction_core.load(bundle, runtime)
    print_json(predict_body(predictor, payload))


@user_errors
def inspect(
    bundle: Annotated[Path, typer.Argument(help="Model bundle directory.")] = DEFAULT_BUNDLE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
    example: Annotated[bool, typer.Option("--example", help="Print a valid request body for this bundle.")] = False,
) -> None:
    """Show a bundle's manifest: model, data, metrics, schema, files; checks every file's SHA-256."""
    from prediction_core.bundle import manifest_schema, read_manifest, verify_bundle

    manifest = read_manifest(bundle)
    verify_bundle(bundle, manifest)
    if example:  # a ready request: `twinserve predict --input "$(twinserve inspect --example)"`
        print_json({"instances": [manifest_schema(manifest).example_instance()]})
        return
    if as_json:
        print_json(manifest)
        return
    _print_summary(bundle, manifest)
    schema = Table("feature", "type", "minimum", "maximum", "categories", "optional", title="input schema")
    for f in manifest["input_schema"]["features"]:
        categories = ", ".join(f.get("categories", [])) + (" (others accepted)" if f.get("unknown") == "accept" else "")
        schema.add_row(f["name"], f["type"], _fmt(f.get("minimum")), _fmt(f.get("maximum", f.get("max_length"))),
                       categories, "yes" if f.get("optional") else "")
    console.print(schema)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _runtime_note(manifest: dict[str, Any], runtime: str) -> str:
    """Whether the bundle offers an optional runtime (onnx, lean), and why not when it does not."""
    entry = manifest.get(runtime)
    if not isinstance(entry, dict):
        return "not recorded (bundle written before this runtime existed: train or import it again)"
    reason = entry.get("reason")
    return str(entry.get("status")) + (f" ({reason})" if reason else "")


def _print_summary(bundle_dir: Path, manifest: dict[str, Any]) -> None:
    table = Table(show_header=False, title=f"bundle {bundle_dir}")
    recipe = manifest.get("recipe") or {}
    metrics = manifest.get("metrics") or {}
    rows = [
        ("name", manifest["name"]),
        ("version", manifest["version"]),
        ("created", manifest.get("created_at", "")),
        ("recipe", f"{recipe.get('name')} {json.dumps(recipe.get('params', {}))}"),
        ("seed", str(manifest.get("seed"))),
        ("training data", (manifest.get("training_data") or {}).get("description", "")),
        ("task", manifest.get("task", "classification")),
        *([("classes", ", ".join(manifest["classes"]))] if manifest["classes"] else []),
        ("features", f"{len(manifest['input_schema']['features'])} (fitted on a "
                     f"{'DataFrame' if manifest.get('input_format') == 'dataframe' else 'numeric array'})"),
        *[(f"held-out {label}", _fmt(metrics.get(key)) or "not evaluated")
          for key, label in (("r2", "R²"), ("mae", "MAE")) if manifest.get("task") == "regression"],
        *[(f"held-out {label}", _fmt(metrics.get(key)) or "not evaluated")
          for key, label in (("accuracy", "accuracy"), ("majority_rate", "majority-class rate"),
                             ("roc_auc", "ROC AUC")) if manifest.get("task", "classification") == "classification"],
        ("onnx runtime", _runtime_note(manifest, "onnx")),
        ("lean runtime", _runtime_note(manifest, "lean")),
    ]
    for name, entry in sorted(manifest["files"].items()):
        rows.append((name, f"{entry['bytes'] / 1024:,.1f} KiB  sha256 {entry['sha256'][:16]}…"))
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    for warning in manifest.get("warnings") or []:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
