"""Reading and writing: 10x HDF5 matrices, fragments files, AnnData/MuData, samplesheets."""
