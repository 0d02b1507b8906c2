"""twinserve cost model: prices as dated data, pure cost functions (units in names), traffic
profiles, comparison and break-even. Every figure here is *modeled* from its inputs."""
