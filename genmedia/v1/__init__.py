"""Generated code for the genmedia.v1 API (scripts/gen_protos.py). Do not edit."""
