"""Tiny helpers for the course's hand-laid-out SVG drawings (each drawing's layout is in its own
script in this folder). Standard library only; the output is plain SVG that any browser shows.
"""
import os
from xml.sax.saxutils import escape

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

STYLE = """
  <style>
    text { font-family: 'DejaVu Sans', Arial, sans-serif; font-size: 13px; fill: #1a1a1a; }
    .title { font-size: 17px; font-weight: bold; }
    .sub { font-size: 12.5px; fill: #444; }
    .shape { font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; fill: #174a7e; }
    .param { font-family: 'DejaVu Sans Mono', monospace; font-size: 11.5px; fill: #8a4b00; }
    .note { font-size: 12px; fill: #444; font-style: italic; }
    .small { font-size: 11.5px; fill: #333; }
    .op { fill: #e8f0fb; stroke: #3d6fb4; stroke-width: 1.2; }
    .p { fill: #fff3e0; stroke: #d08a2e; stroke-width: 1.1; }
    .cache { fill: #e6f5e9; stroke: #2e8b47; stroke-width: 1.3; }
    .io { fill: #f3f3f3; stroke: #777; stroke-width: 1.1; }
    .loss { fill: #fdecec; stroke: #c0504d; stroke-width: 1.2; }
    .frame { fill: none; stroke: #888; stroke-width: 1.2; stroke-dasharray: 6 4; }
    .line { stroke: #333; stroke-width: 1.4; fill: none; }
    .tied { stroke: #d08a2e; stroke-width: 1.3; fill: none; stroke-dasharray: 5 4; }
    .cacheline { stroke: #2e8b47; stroke-width: 1.4; fill: none; }
    .back { stroke: #c0504d; stroke-width: 1.6; fill: none; }
    .plus { fill: #fff; stroke: #333; stroke-width: 1.4; }
  </style>"""


class Svg:
    def __init__(self, width, height, comment, shown_width=880):
        """A drawing laid out on width x height units, shown shown_width pixels wide (so that it fits
        the documentation's page next to its navigation tree)."""
        self.w, self.h = width, height
        shown_height = round(height * shown_width / width)
        self.parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{shown_width}" height="{shown_height}" '
                      f'viewBox="0 0 {width} {height}">',
                      f'  <!-- {escape(comment)} -->', STYLE,
                      '  <defs>',
                      '    <marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                      'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker>',
                      '    <marker id="g" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                      'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#2e8b47"/></marker>',
                      '    <marker id="r" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                      'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#c0504d"/></marker>',
                      '    <marker id="o" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
                      'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#d08a2e"/></marker>',
                      '  </defs>',
                      f'  <rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']

    def comment(self, text):
        self.parts.append(f'  <!-- {escape(text)} -->')

    def text(self, x, y, s, cls=None, anchor="start", weight=None):
        c = f' class="{cls}"' if cls else ""
        w = f' font-weight="{weight}"' if weight else ""
        self.parts.append(f'  <text x="{x}" y="{y}" text-anchor="{anchor}"{c}{w}>{escape(s)}</text>')

    def box(self, x, y, w, h, lines, cls="op", rx=6, line_classes=None):
        """A rectangle with centred lines of text; lines: list of str (or (str, cls))."""
        self.parts.append(f'  <rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" class="{cls}"/>')
        n = len(lines)
        step = 16
        y0 = y + h / 2 - (n - 1) * step / 2 + 4.5
        for i, line in enumerate(lines):
            if isinstance(line, tuple):
                s, c = line
            else:
                s, c = line, None
            self.text(x + w / 2, y0 + i * step, s, c, "middle")

    def rect(self, x, y, w, h, cls, rx=8):
        self.parts.append(f'  <rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" class="{cls}"/>')

    def path(self, d, cls="line", marker="a"):
        m = f' marker-end="url(#{marker})"' if marker else ""
        self.parts.append(f'  <path d="{d}" class="{cls}"{m}/>')

    def arrow(self, x1, y1, x2, y2, cls="line", marker="a"):
        self.path(f"M{x1},{y1} L{x2},{y2}", cls, marker)

    def plus(self, x, y, r=10):
        self.parts.append(f'  <circle cx="{x}" cy="{y}" r="{r}" class="plus"/>')
        self.parts.append(f'  <path d="M{x - r + 4},{y} L{x + r - 4},{y} M{x},{y - r + 4} L{x},{y + r - 4}" class="line"/>')

    def save(self, path):
        """Writes the drawing to `path`, relative to the repository root."""
        self.parts.append("</svg>")
        with open(os.path.join(ROOT, path), "w") as f:
            f.write("\n".join(self.parts) + "\n")
