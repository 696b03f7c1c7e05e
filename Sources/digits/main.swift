print("digits")
