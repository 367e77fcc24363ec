"""The media types of raw payloads that darkroom writes itself, shared by the sender and the workers.

An array is sent as an .npy file (numpy's format, read by workers without
unpickling: workers/payloads.py); a worker tells it from a logged file by
this media type alone, so both sides take it from here.
"""

NPY_MEDIA_TYPE = "application/x-npy"
# The same .npy file compressed with zstd (one frame, its content size in the header);
# the sender writes it when it saves bytes (sdk/_payloads.py has the figures), the
# worker decompresses it, bounded, when it fetches the payload (workers/payloads.py).
NPY_ZSTD_MEDIA_TYPE = "application/x-npy+zstd"
NPY_ZSTD_EXT = "zst"
