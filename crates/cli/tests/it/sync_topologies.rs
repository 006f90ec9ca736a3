//! `ferry sync` between topologies and versions: cluster sources, Redis 6.2, 7.0, Valkey 9.
