// Module PanguChat. See README.md for the layer map.
