"""Offline vision models more than one service uses: dlib's face detector and 128-d face
embedding (``faces``), the local face gallery (``gallery``, ``face_search``), RapidOCR's text
reader (``text``) and box arithmetic in the document's terms (``boxes``).

The recognizer (faces, face search and text on keyframes), the redactor (faces and text on
every frame) and the ``videosense faces`` command import them from here, so each model has one
implementation. Their libraries (OpenCV, dlib, the packaged face weights, rapidocr and
onnxruntime) come with the ``vision`` extra of ``videosense-shared``; nothing in this package is
imported by the rest of ``videosense_shared``, and dlib and rapidocr are imported only when a
model is built.
"""
