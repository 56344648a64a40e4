"""The API takes images as the libraries people use give them, and gives faces left to right, unrounded,
with the results files' schema one call away."""
import cv2
import numpy as np
import pytest

from agegender import FaceAnalyzer


@pytest.fixture(scope="module")
def analyzer(random_models):
    with FaceAnalyzer(models=random_models) as analyzer:
        yield analyzer


@pytest.fixture(scope="module")
def group(group_photo):
    return cv2.imread(str(group_photo))


def boxes(faces) -> np.ndarray:
    return np.array([face.box for face in faces])


def test_rgb_pil_and_grayscale_images_find_the_faces_a_bgr_array_finds(analyzer, group, group_photo):
    from PIL import Image
    bgr = analyzer.analyze(group)
    assert len(bgr) >= 5
    rgb = analyzer.analyze(np.ascontiguousarray(group[..., ::-1]), color="rgb")
    pil = analyzer.analyze(Image.open(group_photo))
    for faces in (rgb, pil):
        np.testing.assert_allclose(boxes(faces), boxes(bgr), atol=0.5)
        assert [f.age_bucket for f in faces] == [f.age_bucket for f in bgr]
    gray = analyzer.analyze(cv2.cvtColor(group, cv2.COLOR_BGR2GRAY))
    assert len(gray) >= len(bgr) - 1
    with pytest.raises(ValueError, match="color must be 'bgr' or 'rgb'"):
        analyzer.analyze(group, color="hsv")


def test_faces_come_left_to_right_unrounded_with_the_results_schema(analyzer, group):
    faces = analyzer.analyze(group)
    assert [f.box[0] for f in faces] == sorted(f.box[0] for f in faces)
    assert any(f.box != tuple(round(v, 1) for v in f.box) for f in faces)  # not round-tripped through text
    for face in faces:
        as_written = face.to_dict()
        assert as_written["box"] == [round(v, 1) for v in face.box]
        assert {"box", "score", "landmarks", "designs"} < set(as_written)
        assert as_written["designs"]["multitask"]["age_bucket"] == face.age_bucket
        top = {key: value for key, value in as_written.items() if key not in ("box", "score", "landmarks", "designs")}
        assert top == as_written["designs"]["multitask"]  # one design: its answer at the top, as users look for it
        assert (top["age_bucket"], top["gender"]) == (face.age_bucket, face.gender)
        low, _, high = face.age_bucket.partition("-")
        assert face.age_years == round(face.age) and int(low.rstrip("+")) <= face.age_years <= int(high or 999)


def test_a_list_of_images_gives_each_image_the_faces_it_gives_alone(analyzer, group, group_photo):
    small = cv2.resize(group, None, fx=0.5, fy=0.5)
    alone = [analyzer.analyze(image) for image in (group, small, group_photo)]
    together = analyzer.analyze([group, small, group_photo])
    assert [len(faces) for faces in together] == [len(faces) for faces in alone] and len(alone[1]) >= 3
    for faces, expected in zip(together, alone):
        np.testing.assert_allclose(boxes(faces), boxes(expected))
        np.testing.assert_allclose([f.age for f in faces], [f.age for f in expected], atol=1e-3)
        np.testing.assert_allclose([f.p_female for f in faces], [f.p_female for f in expected], atol=1e-4)
    assert analyzer.analyze([]) == []


def test_track_reads_a_video_path_with_its_frame_times(analyzer, tmp_path):
    from tests.conftest import write_crowd_clip
    clip = write_crowd_clip(tmp_path / "clip.mp4", frames=8)
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames = list(analyzer.track(clip, detect_every=2))
    assert [f.frame_index for f in frames] == list(range(8))
    assert frames[0].index(frames[0][1]) == 1  # a list of faces still: index() is list's own
    np.testing.assert_allclose([f.time for f in frames], np.arange(8) / fps, atol=1e-3)
    assert all(len(f) >= 3 for f in frames)
    assert {face.track for face in frames[0]} & {face.track for face in frames[-1]}
    capture = cv2.VideoCapture(str(clip))  # the same frames as arrays: the same faces
    arrays = [capture.read()[1] for _ in range(8)]
    from_arrays = list(analyzer.track(arrays, detect_every=2, fps=fps))
    np.testing.assert_allclose(boxes(from_arrays[-1]), boxes(frames[-1]))


def test_track_refuses_what_is_not_a_video(analyzer, group_photo):
    from agegender.errors import InputError
    with pytest.raises(ValueError, match="use analyze"):
        next(analyzer.track(group_photo))
    with pytest.raises(InputError, match="no camera at index 7"):
        next(analyzer.track(7))


def test_draw_paints_what_process_paints(analyzer, group, group_photo, random_models, tmp_path):
    import subprocess
    import sys
    from PIL import Image
    from agegender import draw
    faces = analyzer.analyze(group)
    drawn = draw(group, faces)
    assert drawn.shape == group.shape and not np.array_equal(drawn, group)
    written = tmp_path / "annotated.png"
    subprocess.run([sys.executable, "-m", "agegender", "process", str(group_photo), "--out", str(written),
                    "--models", str(random_models)], check=True, capture_output=True, timeout=300)
    assert np.array_equal(cv2.imread(str(written)), drawn)
    as_rgb = draw(np.ascontiguousarray(group[..., ::-1]), faces, color="rgb")
    assert np.array_equal(as_rgb[..., ::-1], drawn)
    as_pil = draw(Image.open(group_photo), faces)
    assert isinstance(as_pil, Image.Image) and np.array_equal(np.asarray(as_pil)[..., ::-1], drawn)
    assert np.array_equal(draw(group, []), group)


def test_16_bit_and_32_bit_gray_images_find_the_faces_their_file_finds(analyzer, group, tmp_path):
    """PIL's convert("RGB") clips 16-bit and 32-bit gray to white; they are scaled as the path reader scales a
    16-bit file, to the same pixels and so the same faces."""
    from PIL import Image
    gray = cv2.cvtColor(group, cv2.COLOR_BGR2GRAY)
    deep = gray.astype(np.uint16) * 257  # 0-255 spread over 0-65535
    path = tmp_path / "group16.png"
    assert cv2.imwrite(str(path), deep)
    by_path = analyzer.analyze(path)
    assert len(by_path) == len(analyzer.analyze(gray)) >= 5
    pil = Image.fromarray(deep)
    for image in (pil, pil.convert("I"), pil.convert("F"), Image.open(path), deep, np.dstack([deep] * 3)):
        np.testing.assert_array_equal(boxes(analyzer.analyze(image)), boxes(by_path))
    with pytest.raises(ValueError, match="mode F must hold 16-bit values, 0 to 65535.* holds -1.0 to 2.0"):
        analyzer.analyze(Image.fromarray(np.array([[-1, 2]], np.float32)))


def test_draw_refuses_faces_it_cannot_draw_saying_what_it_takes(analyzer, group, random_models):
    from agegender import draw
    faces = analyzer.analyze(group)
    with FaceAnalyzer(design="compare", models=random_models) as compare:
        both = compare.analyze(group)
    with FaceAnalyzer(buckets="decades", models=random_models) as decades:
        in_decades = decades.analyze(group)
    for mixed in (faces + both, both + faces, faces + in_decades):
        with pytest.raises(ValueError, match=r"one analyzer.*draw\(draw\(image, faces_a\), faces_b\)"):
            draw(group, mixed)
    assert draw(draw(group, faces), in_decades).shape == group.shape
    with pytest.raises(ValueError, match="designs must be one of multitask, single, compare, not 'zzz'"):
        draw(group, faces, designs="zzz")
    with pytest.raises(ValueError, match="hold the answers of multitask only"):
        draw(group, faces, designs="single")
    with pytest.raises(TypeError, match="the faces FaceAnalyzer.analyze or track gave, not int"):
        draw(group, [1, 2])
    with pytest.raises(TypeError, match=r"a list of faces.*not Face \(for one face, \[face\]\)"):
        draw(group, faces[0])


def test_track_refuses_a_wrong_source_or_frame_rate_when_called(analyzer, group):
    with pytest.raises(TypeError, match="track.. takes a video file's path, .* or an iterable of BGR arrays, not bool"):
        analyzer.track(True)
    for fps in (0, -25, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="fps must be a positive number"):
            analyzer.track([group], fps=fps)
    with pytest.raises(TypeError, match="fps must be a number"):
        analyzer.track([group], fps="25")


def test_a_closed_analyzer_says_so(random_models, group):
    with FaceAnalyzer(models=random_models) as closed:
        assert closed.analyze(group)
    for use in (lambda: closed.analyze(group), lambda: closed.analyze([group]), lambda: closed.track([group])):
        with pytest.raises(RuntimeError, match="this FaceAnalyzer is closed"):
            use()
    closed.close()  # again: nothing to do
