"""The seed's `/generate` example, as a Python team deploys it: a FastAPI app, a pydantic request
model, and Mangum adapting API Gateway (REST) events to ASGI. No model: this is the Python floor,
the counterpart of the bare `lambda_http` hello."""
from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel, ConfigDict, Field

app = FastAPI(title="generate")


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=4000)
    max_tokens: int = Field(default=64, ge=1, le=512)


class GenerateResponse(BaseModel):
    text: str
    model: str
    tokens: int


@app.post("/generate", response_model=GenerateResponse)
def generate(request: GenerateRequest) -> GenerateResponse:
    words = request.prompt.split()[: request.max_tokens]
    return GenerateResponse(text=" ".join(words), model="echo", tokens=len(words))


handler = Mangum(app, lifespan="off")
