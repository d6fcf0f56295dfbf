// Module PanguModels. See README.md for the layer map.
