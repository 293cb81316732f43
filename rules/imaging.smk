# rules/imaging.smk
