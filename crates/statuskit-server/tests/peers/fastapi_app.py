"""A small FastAPI app written the way FastAPI's tutorial writes one (Pydantic models, an
in-memory store, HTTPException, OAuth2PasswordBearer), for tests/probe.rs: the probe against a
framework we did not write. Run: python3 fastapi_app.py PORT TOKEN (serves on 127.0.0.1)."""

import sys
from typing import Annotated, Literal

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Response, status
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field

TOKEN = sys.argv[2] if len(sys.argv) > 2 else "secret-token"

app = FastAPI(title="Items")
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    sku: str = Field(pattern=r"^[A-Z]{3}-[0-9]{4}$")
    price: float = Field(gt=0, le=1000)
    size: Literal["S", "M", "L"]
    description: str | None = None


class Item(ItemIn):
    id: int


class User(BaseModel):
    username: str


items: dict[int, Item] = {}


def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    if token != TOKEN:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Invalid authentication credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return User(username="probe")


@app.get("/users/me")
def read_users_me(current_user: Annotated[User, Depends(get_current_user)]) -> User:
    return current_user


@app.get("/items/")
def read_items() -> list[Item]:
    return list(items.values())


@app.post("/items/", status_code=status.HTTP_201_CREATED)
def create_item(
    item: ItemIn, response: Response, current_user: Annotated[User, Depends(get_current_user)]
) -> Item:
    new = Item(id=max(items, default=0) + 1, **item.model_dump())
    items[new.id] = new
    response.headers["Location"] = f"/items/{new.id}"
    return new


@app.get("/items/{item_id}")
def read_item(item_id: int) -> Item:
    if item_id not in items:
        raise HTTPException(status_code=404, detail="Item not found")
    return items[item_id]


@app.put("/items/{item_id}")
def update_item(item_id: int, item: ItemIn, current_user: Annotated[User, Depends(get_current_user)]) -> Item:
    if item_id not in items:
        raise HTTPException(status_code=404, detail="Item not found")
    items[item_id] = Item(id=item_id, **item.model_dump())
    return items[item_id]


@app.delete("/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: int, current_user: Annotated[User, Depends(get_current_user)]) -> None:
    if items.pop(item_id, None) is None:
        raise HTTPException(status_code=404, detail="Item not found")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
