"""Built-in processing stages, one module per kind of measurement.

Every module here is imported when the stage registry (`processing.stage`) is first asked, and
registers its stages by versioned name. So a module must import its heavy optional
dependencies inside the stage (with `processing.stage.require`), never at the top.
"""
