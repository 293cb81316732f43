# rules/expression.smk
