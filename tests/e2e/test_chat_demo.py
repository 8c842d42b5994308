"""`civicbot chat --demo` as a separate process (issue 19): the demo is the journey test bed.
A newcomer signs up, votes in the demo ballot, applies to the demo panel and proposes, and
the terminal shows what Telegram would: buttons to press with #N, edits, alerts, photos saved
to a folder, the command menu.

Each step waits for the specific output it expects (not for quiet time), so a slow machine
only makes it slower."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))


class ChatProcess:
    """`civicbot chat` with its stdin and stdout on pipes; stdout is read by a thread."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        env = {key: value for key, value in os.environ.items() if key != "TELEGRAM_BOT_TOKEN"}
        env["WEB_PORT"] = "0"
        self.process = subprocess.Popen(
            [CIVICBOT, "chat", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=tmp_path,
        )
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.mark = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def wait_for(self, *markers: str, timeout: float = 90) -> str:
        """Everything printed since the last line sent, once each marker is in it."""
        deadline = time.monotonic() + timeout
        while True:
            seen = "\n".join(self.lines[self.mark :])
            if all(marker in seen for marker in markers):
                return seen
            remaining = deadline - time.monotonic()
            try:
                line = self._incoming.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                line = ""
            if line is None or remaining <= 0:
                raise AssertionError(f"never printed {markers!r}; the terminal shows:\n{seen}")
            self.lines.append(line)

    def send(self, line: str, *markers: str) -> str:
        assert self.process.stdin is not None
        self.mark = len(self.lines)
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.wait_for(f"you: {line}", *markers) if markers else ""

    def quit(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write(":quit\n")
        self.process.stdin.close()
        return self.process.wait(timeout=60)


def midday_in_seoul() -> str:
    """Today's noon in Seoul, for `--at`: notices wait out quiet hours (22:00–08:00), so a run
    in the evening would never see the goal's notice."""
    return datetime.now(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%dT12:00")


def test_a_newcomer_votes_applies_and_proposes_in_the_demo(tmp_path: Path) -> None:
    chat = ChatProcess(tmp_path, "--demo", "--as-admin", "--at", midday_in_seoul())
    try:
        start = chat.wait_for("buttons: [#1] 동의합니다")
        assert "DEMO — 데모 데이터" in start and "Nothing here is real" in start
        assert "/admin opens the officials' side" in start
        assert "/vote — 진행 중인 투표와 내 투표" in start  # the command menu
        assert "/admin — " in start  # an admin's own menu
        # The consent request becomes the next question, edited in place.
        chat.send("#1", "bot #2 (edited): ", "서울과 어떤 관계이신가요?", "[#1] 서울에 살아요")
        chat.send("#1", "어느 자치구인가요?")
        chat.send("마포구", ": 자치구: 마포구", "keyboard: [#1] 도움말")

        # Vote: the demo ballot's city-wide heading. The birth year is typed as a number and
        # is read as the answer, not as button #1990 or #1.
        out = chat.send("/vote", "[#1] [데모] 광역 사업  [#2] [데모] 마포구 사업")
        chat.send("#1", "태어난 해를 네 자리로 입력해 주세요", "[#1] 취소")
        out = chat.send("1990", "답변: 1990", "[#1] 아니요, 해당하지 않습니다")
        assert "(edited): " in out  # the question, edited in place with the answer
        chat.send("#1", "[#1] 1. [데모] 한강공원 그늘숲")
        chat.send("#1", "선택: 1개 (최대 2개)", "[#1] 선택함: 1. [데모] 한강공원 그늘숲")
        chat.send("#3", "선택: 2개 (최대 2개)")
        out = chat.send("#5", "(alert) 최대 2개까지 고를 수 있어요")
        assert "bot #" not in out.replace("you: #5", "")  # only the pop-up: no new message
        chat.send("#7", "사업비 합계: 9억 5,000만 원", "[#1] 투표 제출")
        chat.send("#1", "투표를 제출했어요. 투표 확인 번호: ")

        # Apply to the demo panel in recruitment.
        chat.send("/panels", "[#1] 신청하기: [데모] 시민회의 위원 모집")
        chat.send("#1", "성별이 어떻게 되시나요?", "[#1] 여성")
        chat.send("#1", "[#1] 1990년 그대로")
        chat.send("#1", "이 활동과 일정에 동의하시나요?")
        chat.send("#1", "연령대: 30대", "[#1] 신청서 보내기")
        chat.send("#1", "신청을 접수했어요")

        # Propose in the demo call, with a photo and a pin.
        chat.send("/propose", "[#2] [데모] 시민제안")
        chat.send("#2", "제안 제목은 무엇인가요?")
        chat.send("한강 둔치에 그늘막을 더 놓아 주세요", "제안 내용을 적어 주세요")
        chat.send("여름 한낮에 쉴 곳이 없어요. 둔치 곳곳에 그늘막을 놓아 주세요.", "[#4] 환경")
        chat.send("#4", "[#1] 서울 전체 또는 여러 자치구")
        chat.send("#1", "[#26] 서울 전체  [#27] 완료")
        chat.send("#26", "[#1] ✓ 종로구")
        chat.send("#27", "사진을 5장까지 보내 주세요 (지금 0장)")
        chat.send(":photo", "(지금 1장)")
        chat.send("#1", "위치를 공유해 주세요")
        chat.send(":location 37.52 126.93", "[#1] 계속")
        chat.send("#1", "사진: 1장", "위치 첨부됨", "[#1] 제출")
        out = chat.send("#1", "게시됐어요", "공감 0 / 5", "[#7] 사진")
        assert "[#1] 공감하기" in out
        # The photo the bot sends back is saved, with its path printed.
        out = chat.send("#7", "[photo, saved to ")
        saved = Path(out.split("[photo, saved to ")[1].split("]")[0])
        assert saved.read_bytes().startswith(b"\x89PNG")

        # 공감 for a demo citizen's proposal: the fifth reaches the demo's goal of 5.
        chat.send("/proposals", "#1 [데모] 골목길 가로등을 늘려 주세요 — 공감 모으는 중 · 공감 4")
        chat.send("#1", "공감 4 / 5", "[#1] 공감하기")
        # Supporters follow the proposal: the goal's notice comes to this chat too, and its
        # button is then the one listed (the terminal lists the newest message's buttons).
        chat.send(
            "#1",
            "(toast) 공감해 주셔서 고마워요!",
            "공감 5 / 5",
            "“[데모] 골목길 가로등을 늘려 주세요” 소식: 공감 목표 달성",
        )
        # The notice's button opens the card: the goal is reached and support still open.
        chat.send("#1", "공감 5 / 5", "[#1] 공감 취소")

        # /mydata: the document is saved too; it holds the proposal whole and "voted in".
        out = chat.send("/mydata", "[file mydata-1001.json, ", "bytes, saved to ")
        saved = Path(out.split("bytes, saved to ")[1].split("]")[0])
        mine = json.loads(saved.read_text(encoding="utf-8"))
        (proposal,) = mine["participation"]["proposals"]
        assert proposal["description"].startswith("여름 한낮에 쉴 곳이 없어요")
        assert len(proposal["photos"]) == 1 and proposal["latitude"] == 37.52
        assert mine["voting"]["voted_in"][0]["voted_in"] == (
            "[데모] 시민참여예산 투표 — [데모] 광역 사업"
        )
        assert mine["panels"]["applications"][0]["programme"] == "demo-panel"
    finally:
        code = chat.quit()
    assert code == 0


def test_an_admin_sees_the_quotas_and_draws_the_demo_panel(tmp_path: Path) -> None:
    chat = ChatProcess(tmp_path, "--demo", "--as-admin")
    try:
        chat.wait_for("buttons: [#1] 동의합니다")
        chat.send("#1", "[#1] 서울에 살아요")
        chat.send("#1", "어느 자치구인가요?")
        chat.send("마포구", ": 자치구: 마포구")
        chat.send("/paneladmin", "[#5] [데모] 시민회의 위원 모집  [#6] [데모] 시민회의 추첨")
        chat.send("#5", "신청함, 추첨 대기: 5", "[#1] 할당 대비 신청자")
        chat.send("#1", "정원 4명에 신청자 5명", "성별: 여성 3 (1–3) · 남성 2 (1–3)")
        chat.send("/paneladmin", "[#6] [데모] 시민회의 추첨")
        chat.send("#6", "신청함, 추첨 대기: 12", "[#2] 추첨 확인값 공개")
        chat.send("#2", "[#1] 추첨 확인값 공개")
        chat.send("#1", "신청자 12명", "[#1] 시드 입력 후 추첨")
        chat.send("#1", "공개 시드를 입력해 주세요", "[#1] 취소")
        # The seed "1" is an answer, although button #1 (취소) is on screen.
        chat.send("1", "시드 “1”로 추첨할까요?", "[#1] 지금 추첨")
        chat.send(
            "#1", "추첨을 마치고 공개했어요. 시드: 1", "선정 4명 · 예비 명단 8명", "선정자 (가명): "
        )
    finally:
        code = chat.quit()
    assert code == 0
