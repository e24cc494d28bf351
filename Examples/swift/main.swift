import LD4MRec
