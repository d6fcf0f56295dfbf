// Module PanguEngine. See README.md for the layer map.
