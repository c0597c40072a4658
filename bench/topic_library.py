"""A synthetic video library whose captions and speech are about something, for measuring
natural-language search with real model vectors.

Each video has a subject (cooking, football, woodwork...); its keyframe captions and
transcript sentences are filled in from templates with that subject's nouns, verbs and places,
with some from a second subject and some generic talk ("thanks for watching"), as real videos
mix. The texts come from a pool of distinct texts embedded once by the real model
(all-MiniLM-L6-v2 in numpy) and cached on disk, keyed by the texts' hash, so the library's
vectors are real model output with the cluster structure real captions and speech have, and a
re-run costs nothing to embed. Questions are phrased differently from the pool (other
templates, other word order), as a person types them.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from videosense_shared.document import DocumentKeyframe, VideoDocument
from videosense_shared.messages import (
    Face,
    ImageRef,
    Label,
    MediaFacts,
    Segment,
    SourceRef,
    TextDetection,
    Transcript,
    VideoStatus,
)

Vectors = np.ndarray[Any, np.dtype[np.float32]]
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Subject:
    """What a video can be about: its words (verbs as "base/-ing form")."""

    name: str
    nouns: tuple[str, ...]
    verbs: tuple[str, ...]
    places: tuple[str, ...]


#: Each subject: its name, then its nouns, verbs ("base/-ing form") and places; a line
#: starting deeper continues the one above.
_SUBJECT_TABLE = """
cooking
    nouns: onion, pan, soup, knife, garlic, oven, sauce, pasta, chicken, spoon
    verbs: chop/chopping, stir/stirring, bake/baking, fry/frying, taste/tasting, boil/boiling
    places: kitchen, restaurant, stove, counter
football
    nouns: ball, goal, striker, referee, pitch, penalty, keeper, jersey, team, corner
    verbs: kick/kicking, score/scoring, pass/passing, defend/defending, tackle/tackling,
        shoot/shooting
    places: stadium, field, training ground, locker room
space
    nouns: rocket, astronaut, planet, moon, satellite, orbit, telescope, star, capsule, engine
    verbs: launch/launching, orbit/orbiting, land/landing, observe/observing, dock/docking,
        float/floating
    places: launch pad, space station, mission control, observatory
woodwork
    nouns: plank, saw, chisel, drill, table, joint, sandpaper, clamp, varnish, shelf
    verbs: cut/cutting, sand/sanding, drill/drilling, glue/gluing, measure/measuring,
        carve/carving
    places: workshop, garage, shed, workbench
gardening
    nouns: tomato, seed, soil, flower, hose, shovel, rose, compost, hedge, lawn
    verbs: plant/planting, water/watering, prune/pruning, dig/digging, weed/weeding,
        harvest/harvesting
    places: garden, greenhouse, backyard, allotment
cars
    nouns: engine, tyre, brake, gearbox, bonnet, wheel, exhaust, battery, dashboard, sports car
    verbs: drive/driving, repair/repairing, race/racing, park/parking, tune/tuning,
        wash/washing
    places: race track, garage, motorway, car park
music
    nouns: guitar, piano, drum, violin, song, chord, microphone, band, concert, melody
    verbs: play/playing, sing/singing, tune/tuning, record/recording, strum/strumming,
        practise/practising
    places: studio, stage, concert hall, rehearsal room
wildlife
    nouns: lion, elephant, zebra, bird, giraffe, herd, cub, river, predator, nest
    verbs: hunt/hunting, graze/grazing, migrate/migrating, feed/feeding, track/tracking,
        watch/watching
    places: savanna, jungle, nature reserve, watering hole
fitness
    nouns: dumbbell, treadmill, squat, muscle, yoga mat, kettlebell, push-up, stretch,
        heart rate, workout
    verbs: lift/lifting, run/running, stretch/stretching, train/training, jump/jumping,
        breathe/breathing
    places: gym, park, fitness studio, home
computers
    nouns: laptop, keyboard, code, server, screen, program, database, bug, cable, processor
    verbs: type/typing, debug/debugging, install/installing, compile/compiling,
        deploy/deploying, test/testing
    places: office, data centre, desk, classroom
weather
    nouns: storm, rain, cloud, wind, snow, thunder, forecast, temperature, flood, sunshine
    verbs: forecast/forecasting, measure/measuring, shelter/sheltering, warn/warning,
        track/tracking, clear/clearing
    places: coast, weather station, mountains, city centre
painting
    nouns: canvas, brush, palette, portrait, landscape, watercolour, easel, colour, sketch,
        frame
    verbs: paint/painting, mix/mixing, sketch/sketching, blend/blending, draw/drawing,
        frame/framing
    places: art studio, gallery, museum, classroom
fishing
    nouns: rod, reel, trout, bait, hook, boat, net, salmon, lake, fly
    verbs: cast/casting, catch/catching, reel/reeling, row/rowing, wait/waiting,
        release/releasing
    places: lake, river bank, harbour, pier
baking
    nouns: bread, dough, flour, cake, oven, butter, yeast, pastry, icing, biscuit
    verbs: knead/kneading, bake/baking, whisk/whisking, decorate/decorating, roll/rolling,
        proof/proofing
    places: bakery, kitchen, oven, market stall
travel
    nouns: suitcase, passport, train, hotel, map, airport, beach, ticket, tour guide, city
    verbs: travel/travelling, explore/exploring, fly/flying, book/booking, pack/packing,
        visit/visiting
    places: airport, old town, train station, seaside
chemistry
    nouns: beaker, acid, molecule, flame, test tube, reaction, crystal, solution, microscope,
        element
    verbs: mix/mixing, heat/heating, measure/measuring, observe/observing, dissolve/dissolving,
        filter/filtering
    places: laboratory, lecture hall, school, research centre
construction
    nouns: crane, brick, cement, scaffold, beam, helmet, excavator, wall, foundation, roof
    verbs: build/building, lift/lifting, pour/pouring, weld/welding, dig/digging,
        inspect/inspecting
    places: building site, road works, warehouse, bridge
dogs
    nouns: puppy, leash, bone, ball, collar, kennel, treat, tail, bark, vet
    verbs: walk/walking, train/training, fetch/fetching, groom/grooming, feed/feeding,
        play/playing
    places: park, beach, living room, dog show
skiing
    nouns: ski, slope, snowboard, lift, goggles, jump, piste, boots, avalanche, chalet
    verbs: ski/skiing, jump/jumping, race/racing, turn/turning, climb/climbing, slide/sliding
    places: mountain, ski resort, glacier, cable car
finance
    nouns: stock, market, bank, loan, budget, chart, interest rate, investor, currency, profit
    verbs: invest/investing, trade/trading, save/saving, borrow/borrowing, spend/spending,
        analyse/analysing
    places: stock exchange, bank, office, trading floor
sailing
    nouns: sail, mast, yacht, anchor, rope, wave, harbour, compass, crew, wind
    verbs: sail/sailing, steer/steering, anchor/anchoring, navigate/navigating, tie/tying,
        race/racing
    places: open sea, marina, harbour, coast
medicine
    nouns: doctor, patient, nurse, stethoscope, x-ray, surgery, vaccine, pill, bandage, heart
    verbs: examine/examining, treat/treating, operate/operating, diagnose/diagnosing,
        heal/healing, test/testing
    places: hospital, clinic, operating theatre, ambulance
cycling
    nouns: bike, helmet, pedal, chain, saddle, mountain bike, race, wheel, gear, trail
    verbs: ride/riding, pedal/pedalling, climb/climbing, repair/repairing, race/racing,
        brake/braking
    places: mountain trail, velodrome, city street, country road
history
    nouns: castle, king, battle, sword, museum, ruin, empire, army, manuscript, monument
    verbs: conquer/conquering, defend/defending, explore/exploring, discover/discovering,
        rule/ruling, study/studying
    places: castle, battlefield, museum, ancient city
"""


def _parse_subjects(table: str) -> tuple[Subject, ...]:
    subjects: list[Subject] = []
    fields: dict[str, list[str]] = {}
    name = ""
    last = ""

    def done() -> None:
        if name:
            subjects.append(
                Subject(name, *(tuple(fields[key]) for key in ("nouns", "verbs", "places")))
            )

    for line in table.strip().splitlines():
        if not line.startswith(" "):
            done()
            name, fields = line.strip(), {}
        elif line.startswith("        "):
            fields[last] += [w.strip() for w in line.split(",") if w.strip()]
        else:
            last, _, words = line.strip().partition(":")
            fields[last] = [w.strip() for w in words.split(",") if w.strip()]
    done()
    return tuple(subjects)


SUBJECTS = _parse_subjects(_SUBJECT_TABLE)

CAPTIONS = (
    "a {noun} in the {place}",
    "a person {ing} a {noun}",
    "a close up of a {noun}",
    "two people {ing} near a {noun} in the {place}",
    "a {noun} and a {noun2} on display",
    "a man {ing} at the {place}",
    "a woman {ing} with a {noun}",
    "a group of people in a {place}",
    "a view of the {place} with a {noun}",
    "someone holding a {noun} next to a {noun2}",
)
SENTENCES = (
    "now we are going to {verb} the {noun}",
    "you can see the {noun} right here in the {place}",
    "the trick with a {noun} is to {verb} it slowly",
    "let's {verb} the {noun} and then the {noun2}",
    "I really love {ing} in the {place}",
    "so that's how you {verb} a {noun}",
    "first of all you need a good {noun}",
    "this {noun} is the best one I have seen in the {place}",
    "be careful when you {verb} near the {noun2}",
    "today we are at the {place} to talk about the {noun}",
    "{ing} is all about the {noun} and the {noun2}",
    "don't forget to {verb} your {noun} every time",
)
QUESTIONS = (
    "how do I {verb} a {noun}",
    "{noun} at the {place}",
    "someone {ing} a {noun2}",
    "a video about {ing} a {noun}",
    "what happens to the {noun} in the {place}",
    "tips for {ing}",
    "{noun} and {noun2}",
    "best way to {verb} it",
)
GENERIC = (
    "thanks for watching",
    "welcome back to the channel",
    "don't forget to like and subscribe",
    "okay so let's get started",
    "see you in the next video",
    "let me know in the comments",
    "alright that's it for today",
    "hi everyone",
    "so yeah",
    "right",
    "a blurry picture",
    "a dark room",
    "a black screen with white text",
    "a logo on a white background",
)


#: What speech and captions add around their subject (so that texts about the same thing
#: differ, as they do: a pool of ~50,000 distinct texts, not a few thousand).
OPENERS = ("", "", "", "so ", "okay ", "and now ", "honestly ", "right, ", "you know, ", "well ")
CLOSERS = (
    "",
    "",
    "",
    " right now",
    " for a few minutes",
    " if you want",
    " like this",
    " again",
    " this time",
    " before we finish",
)
SCENES = (
    "",
    "",
    "",
    " at night",
    " in the sun",
    " with people in the background",
    " in black and white",
    " from above",
    " in the rain",
    " on a sunny day",
)


def _fill(template: str, subject: Subject, rng: random.Random) -> str:
    noun, noun2 = rng.sample(subject.nouns, 2)
    verb, ing = rng.choice(subject.verbs).split("/")
    return template.format(
        noun=noun, noun2=noun2, verb=verb, ing=ing, place=rng.choice(subject.places)
    )


def _caption(subject: Subject, rng: random.Random) -> str:
    return _fill(rng.choice(CAPTIONS), subject, rng) + rng.choice(SCENES)


def _sentence(subject: Subject, rng: random.Random) -> str:
    return rng.choice(OPENERS) + _fill(rng.choice(SENTENCES), subject, rng) + rng.choice(CLOSERS)


def _distinct(make: Any, count: int, rng: random.Random) -> list[str]:
    """``count`` distinct texts from ``make(rng)`` (fewer if the templates run out)."""
    texts: dict[str, None] = {}
    for _ in range(count * 20):
        texts[make(rng)] = None
        if len(texts) == count:
            break
    return list(texts)


class TopicLibrary:
    """Videos about subjects, their texts drawn from a pool of distinct texts (fixed seed).

    Args:
        pool_size: distinct texts in the pool (captions and sentences, over every subject).
        seed: the random seed of the pool and the videos.
    """

    def __init__(self, pool_size: int, seed: int = 13) -> None:
        rng = random.Random(seed)
        per_subject = max(4, (pool_size - len(GENERIC)) // len(SUBJECTS))
        self.captions: dict[str, list[str]] = {}
        self.sentences: dict[str, list[str]] = {}
        for subject in SUBJECTS:
            self.captions[subject.name] = _distinct(
                lambda r, s=subject: _caption(s, r), per_subject // 3, rng
            )
            self.sentences[subject.name] = _distinct(
                lambda r, s=subject: _sentence(s, r),
                per_subject - per_subject // 3,
                rng,
            )
        self.pool = list(
            dict.fromkeys(
                [t for texts in self.captions.values() for t in texts]
                + [t for texts in self.sentences.values() for t in texts]
                + list(GENERIC)
            )
        )
        self.rng = random.Random(seed + 1)

    def _text(self, subject: Subject, second: Subject, captions: bool) -> str:
        rng = self.rng
        draw = rng.random()
        if draw < 0.06:
            return rng.choice(GENERIC)
        chosen = second if draw < 0.2 else subject
        texts = (self.captions if captions else self.sentences)[chosen.name]
        return rng.choice(texts)

    def document(self, n: int) -> VideoDocument:
        """Video ``n``: 24-60 keyframes with a caption each, a transcript segment per ~8 s of a
        2-15 minute video (the shape of the full-text benchmark's documents)."""
        rng = self.rng
        subject, second = rng.sample(SUBJECTS, 2)
        duration = rng.uniform(120, 900)
        count = rng.randint(24, 60)
        keyframes = []
        for i in range(count):
            t_s = duration * i / count
            keyframes.append(
                library_keyframe(n, i, t_s, self._text(subject, second, captions=True))
            )
        segments = []
        t = 0.0
        for _ in range(int(duration / 8)):
            length = rng.uniform(2, 8)
            segments.append(
                Segment(start_s=t, end_s=t + length, text=self._text(subject, second, False))
            )
            t += length + rng.uniform(0, 2)
        return library_document(n, duration, keyframes, segments)

    def questions(self, count: int, seed: int = 29) -> list[str]:
        """Questions about the subjects, in words and order of their own."""
        rng = random.Random(seed)
        return [_fill(rng.choice(QUESTIONS), rng.choice(SUBJECTS), rng) for _ in range(count)]


def embedded_pool(texts: Sequence[str], cache_dir: Path) -> Vectors:
    """The real model's vectors of ``texts`` (in order), cached in ``cache_dir`` under the
    hash of the texts and the model, so a re-run embeds nothing."""
    from videosense_shared.search.embeddings import MiniLmEmbedder

    model = MiniLmEmbedder()
    digest = hashlib.sha256("\n".join([model.model_id, *texts]).encode()).hexdigest()[:16]
    cache = cache_dir / f"pool-{digest}.npy"
    if cache.is_file():
        vectors: Vectors = np.load(cache)
        return vectors
    start, start_cpu = time.perf_counter(), time.process_time()
    vectors = model.embed(list(texts))
    cpu = time.process_time() - start_cpu
    print(
        f"(embedded the pool's {len(texts):,} texts in {time.perf_counter() - start:.0f} s, "
        f"{cpu:.0f} s of CPU: {len(texts) / cpu:.0f} texts per CPU-second)",
        flush=True,
    )
    np.save(cache, vectors)
    return vectors


class PoolEmbedder:
    """The text embedder the benchmark indexes with: each text's vector is the real model's,
    looked up in the embedded pool (every text of the library is in it).

    Raises:
        KeyError: (from ``embed``) a text that is not in the pool.
    """

    def __init__(self, texts: Sequence[str], vectors: Vectors, model_id: str) -> None:
        self._rows = {text: i for i, text in enumerate(texts)}
        self._vectors = vectors
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimensions(self) -> int:
        return int(self._vectors.shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows: Vectors = self._vectors[[self._rows[text] for text in texts]]
        return rows


def library_keyframe(
    n: int,
    i: int,
    t_s: float,
    caption: str,
    *,
    text: Sequence[TextDetection] = (),
    labels: Sequence[Label] = (),
    faces: Sequence[Face] = (),
) -> DocumentKeyframe:
    """Keyframe ``i`` of video ``n`` of a synthetic library: at ``t_s`` of a 25 fps video, three
    keyframes to a scene, a 720p image, with this caption and what was found in it."""
    return DocumentKeyframe(
        id=f"kf-{i}",
        frame=int(t_s * 25),
        t_s=t_s,
        scene_index=i // 3,
        image=ImageRef(bucket="media", key=f"frames/v{n}/{i:09d}.jpg", width=1280, height=720),
        caption=caption,
        text=tuple(text),
        labels=tuple(labels),
        faces=tuple(faces),
    )


def library_document(
    n: int, duration: float, keyframes: Sequence[DocumentKeyframe], segments: Sequence[Segment]
) -> VideoDocument:
    """The ``n``-th complete document of a synthetic library: a 720p H.264 video of
    ``duration`` seconds with these keyframes and transcript segments."""
    return VideoDocument(
        video_id=f"video-{n:05d}",
        status=VideoStatus.COMPLETE,
        source=SourceRef(bucket="media", key=f"uploads/video-{n:05d}.mp4", etag="e", size_bytes=1),
        media=MediaFacts(
            duration_s=duration,
            fps=25,
            width=1280,
            height=720,
            frame_count=int(duration * 25),
            video_codec="h264",
            has_audio=True,
        ),
        created_at=CREATED,
        completed_at=CREATED,
        keyframes=tuple(keyframes),
        transcript=Transcript(
            language="en", text=" ".join(s.text for s in segments), segments=tuple(segments)
        ),
    )
