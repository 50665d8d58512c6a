"""Training recipes (``fakelens train CONFIG``)."""
