"""Reporting: the rule that reads a cell's evaluations (report_rule), the table registry
(table_registry), the tables (tables), the verdicts and findings the scorecard prints (verdicts,
findings, scorecard), the figures and the committed sets' figures (figures, figure_sets), and
reading committed records again under the rule (reread).

The door is acai_repro.reporting.tables: what the workflow's table rules write.
"""
