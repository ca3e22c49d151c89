"""A property-based fuzzer for every genmedia RPC (hypothesis strategies, raw protobuf wire bytes).

    python -m loadtests.fuzz --address 127.0.0.1:9000 --count 100000 [--concurrency 32] [--seed N]
    python -m loadtests.fuzz --start-service --count 100000

Modules: rpcs (the RPC table and the oracle's allowed codes and field names), wire (protobuf wire
encoding by hand: varints, tags, wrong wire types, truncation), media (a small corpus of valid and
hostile image, audio and video files), strategies (hypothesis strategies per request message),
oracle (judges one outcome), runner (sends cases concurrently over grpc.aio and counts), service
(starts a private service and reads its replicas, for the restart check).
"""
