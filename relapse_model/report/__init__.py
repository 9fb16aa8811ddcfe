"""Reports: a specification (``reports/*.toml``) in, a self-contained HTML page with CSV tables,
figures and their data, the posterior, the simulations and provenance out.

- :mod:`.spec` reads and validates report specifications;
- :mod:`.content` computes the tables (small counts suppressed by :mod:`.privacy`);
- :mod:`.figures` draws them; :mod:`.html` lays out the page (Jinja2);
- :mod:`.provenance` records versions, input hashes, seed, command and build date;
- :mod:`.build` runs it all: :func:`relapse_model.report.build.build_report`.
"""
