"""`gradcheck jacobian`: one layer's analytic and numeric Jacobians side by side."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .terminal import escape_controls


def jacobian_view(jac) -> Table:
    """Analytic and numeric Jacobians side by side, the entries that differ in red."""
    from rich.columns import Columns

    def matrix(values, title) -> Table:
        table = Table(title=title, show_header=False, box=None, pad_edge=False)
        for _ in range(values.shape[1]):
            table.add_column(justify="right")
        for j, row in enumerate(values):
            table.add_row(*(Text(f"{v:.4g}", style="bold red" if jac.differ[j, i] else None)
                            for i, v in enumerate(row)))
        return table

    return Columns([matrix(jac.analytic, "analytic (backward)"), matrix(jac.numeric, "numeric (central)")],
                   padding=(0, 4))


def print_jacobian(console: Console, jac) -> bool:
    """Print the two Jacobians and what differs; True when every entry agrees."""
    console.print(f"{escape_controls(jac.place)} ({escape_controls(jac.type)}), row {jac.row}: J[j, i] = dy_j/dx_i, "
                  f"{jac.analytic.shape[0]} outputs × {jac.analytic.shape[1]} inputs", markup=False)
    console.print(jacobian_view(jac))
    kinks = int(jac.kink.sum())
    if kinks:
        console.print(f"{kinks} of {jac.kink.size} entries at a kink: the analytic value lies between the "
                      "one-sided derivatives (a valid subgradient)", style="yellow")
    differ = int(jac.differ.sum())
    if differ:
        console.print(f"{differ} of {jac.differ.size} entries differ", style="bold red")
        return False
    console.print("the Jacobians agree", style="green")
    return True
