"""The media types of raw payloads that darkroom writes itself, shared by the sender and the workers.

An array is sent as an .npy file (numpy's format, read by workers without
unpickling: workers/payloads.py); a worker tells it from a logged file by
this media type alone, so both sides take it from here.
"""

NPY_MEDIA_TYPE = "application/x-npy"
