"""Trained models for use elsewhere: a self-contained bundle per fine-tuned run (``export``),
``mgi predict`` on new patients (``predict``), and the external cohorts of the workflow.

Bundle layout: :mod:`mgi.bundle.layout`; licence: :mod:`mgi.bundle.licence`.
"""
