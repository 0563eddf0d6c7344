"""One router per page group; each page is a data dict (its JSON) and a template."""
