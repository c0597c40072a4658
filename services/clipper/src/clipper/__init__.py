"""videosense clipper service: ``ClipRequested`` in, frame-accurate MP4 clips and ``ClipsReady``
out. The cutting engine (:func:`clipper.cutting.cut_ranges`) and the range finder
(:func:`clipper.moments.find_ranges`) are usable on their own."""
