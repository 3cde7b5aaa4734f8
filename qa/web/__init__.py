"""The web chat and the JSON API beside it (`qa serve`), in five parts:

- `render`: pure functions from an Answer, a document or index stats to escaped HTML;
- `uploads`: checking and saving uploaded files, then adding them to the index;
- `app`: the Gradio app that wires the page to one shared Index;
- `api`: the JSON routes under /api and who may call them;
- `server`: opening the index and serving the app, the API and MCP on one port (`serve`, `launch`);
plus `static/`: the page's CSS and scripts.
"""

from qa.web.app import make_app
from qa.web.server import launch, serve

__all__ = ["make_app", "launch", "serve"]
