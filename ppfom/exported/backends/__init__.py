"""One module per runtime of the exported graphs. Each has a session class built from an exported
folder and a part name, whose ``run(list of arrays) -> list of arrays`` follows the graph's input and
output order (``ppfom.exported.graphs.input_names`` / ``output_names``)."""
