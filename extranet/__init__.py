"""extranet: two password-protected static sites (internal and mixed) from Markdown, with an email gateway."""

__version__ = "0.1.0"
