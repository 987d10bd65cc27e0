"""The grid of cells: the command line (`python -m acai_repro.grid`: cli), each cell's status
(cell_status), its cost (cost, from the rates of rates) and the cluster profile's check
(slurm_profile), and the workflow's targets (targets). The cells of a target are
acai_repro.grid_cells, which the configuration's own tests read.

The door is acai_repro.grid.cli: status, cost and check.
"""
