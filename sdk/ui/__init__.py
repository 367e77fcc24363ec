"""`darkroom ui`: a local web viewer over the storage darkroom writes (needs ``darkroom[ui]``).

`darkroom.ui.app.make_app` builds the ASGI app; `darkroom.ui.serve.serve`
runs it with uvicorn.  Neither is imported by ``import darkroom``.
"""
