"""The twinserve command line: thin wrappers that parse options, call the core, and print."""

from __future__ import annotations

import typer

from twinserve.commands import bench, cost, emulate, model, package, report, serve

app = typer.Typer(
    name="twinserve",
    help="Serve a scikit-learn model from AWS Lambda or an always-on container: measure, then decide.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(model.train)
app.command("import")(model.import_model)
app.command()(model.predict)
app.command()(model.inspect)
app.command()(serve.serve)
app.add_typer(package.app, name="package")
app.command()(emulate.emulate)
app.command()(bench.bench)
app.add_typer(cost.app, name="cost")
app.add_typer(cost.prices_app, name="prices")
app.command()(report.report)


def main() -> None:
    app()
