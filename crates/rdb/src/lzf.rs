//! LZF decompression with exact output lengths and caps.
