print("pangu")
