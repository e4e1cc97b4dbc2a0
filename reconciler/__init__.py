"""Customer accounts of a VoIP wholesale platform, kept as files in git and reconciled live."""

__version__ = "0.1.0"
