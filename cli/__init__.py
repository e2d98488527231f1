"""The ``xxgk`` command: one module per command family, ``main`` wires them, ``common`` holds what they share
(configuration, catalog, agency selection, tables and exports). Each command is a thin adapter over the
package that does the job, and turns a failure into one line on stderr and a non-zero exit status."""
