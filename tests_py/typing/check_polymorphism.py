"""A polymorphic family, as pyright sees it: the root's repository returns the root type, a
subclass's returns the subclass."""

from __future__ import annotations

from vellum import VellumBaseModel, VellumRepository


class Animal(VellumBaseModel):
    name: str

    class Settings:
        polymorphic = True


class Dog(Animal):
    barks: bool = True


async def reads(animals: VellumRepository[Animal], dogs: VellumRepository[Dog]) -> bool:
    every: list[Animal] = await animals.find()
    only_dogs: list[Dog] = await dogs.find(Dog.Q.barks == True)  # noqa: E712 - a query
    first = await dogs.find_one()
    return bool(every) and bool(only_dogs) and (first is None or first.barks)
