"""Reporting: the tables (tables), the verdicts and findings the scorecard prints (verdicts,
findings, scorecard), the figures and the committed sets' figures (figures, figure_sets), and
reading committed records again under the reporting rule (reread). The rule itself
(acai_repro.report_rule) and the table registry (acai_repro.table_registry) lie one floor down,
beside the config: training, the config's checks and the rules read them too.

The door is acai_repro.reporting.tables: what the workflow's table rules write.
"""
